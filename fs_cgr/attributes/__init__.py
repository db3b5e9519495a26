"""AttributeS: profiles that alter an event's fields before it is authorized, charged or
stored (CGrateS' AttributeS). ``node.attributes`` is the AttributeService."""

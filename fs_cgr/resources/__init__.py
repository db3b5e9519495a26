"""ResourceS: limits on what events may use at once, e.g. concurrent calls per account
(CGrateS' ResourceS). ``node.resources`` is the ResourceService."""

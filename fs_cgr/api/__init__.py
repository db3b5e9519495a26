"""JSON-RPC API: method registry, CGrateS envelope, HTTP server, client and the fs-cgr CLI."""

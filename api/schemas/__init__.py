"""Request and response bodies of the API, one module per resource.

Kept apart from the routers so a handler reads as what it does (parse, authorize, call,
map) and a body's shape can be read, reused and tested without the route around it.
Each module also holds the function that maps a row to its view: the one place that
decides what of a row the API shows.
"""

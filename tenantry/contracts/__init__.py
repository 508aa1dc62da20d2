"""The messages and names that api/, workflows/ and activities/ share, split by domain.

Every workflow and activity takes one model and returns one model (fields are added
compatibly). `common` holds what every domain shares: task queues, workflow IDs,
search attributes and error type names. Nothing here imports activities, db or any I/O.
"""

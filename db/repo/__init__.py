"""Small typed queries shared by the API and the activities, one module per concern."""

"""tap-mongodb: a Singer tap for MongoDB built on the Meltano Singer SDK."""

"""target-mongodb: a Singer target for MongoDB built on the Meltano Singer SDK."""

"""Code shared by tap-mongodb and target-mongodb: connection building and the BSON codec.

It lives in one package so the tap's encoding and the target's decoding can never drift
apart.
"""

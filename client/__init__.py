"""The user side of dmlnet: the ``dml`` command line."""

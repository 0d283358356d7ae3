"""The ``oms`` command line."""

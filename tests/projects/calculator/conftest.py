# Marks the project root for pytest (rootdir-based import): with this file
# here, `python3 -m pytest -q -p no:cacheprovider` run from this directory can
# import the `calculator` package without installing it.

"""The sandbox: free queries on a synthetic twin of the data (issue #22)."""

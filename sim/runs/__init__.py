"""Runs, sweeps, their executors, the store and export: everything that turns models into records."""

"""geosurvey benchmarks: ``python -m benchmarks.run`` (add ``--quick`` for a fast smoke run)."""

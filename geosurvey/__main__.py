"""``python -m geosurvey`` runs the command line."""

from geosurvey.cli import main

if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

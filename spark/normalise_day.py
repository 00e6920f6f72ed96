"""spark-submit entry point: spark-submit spark/normalise_day.py --date YYYY-MM-DD --landing-dir DIR

The job lives in watchlist_screening.normalise.job (see its docstring for options and
exit codes); this file only hands over the command line.
"""
import sys

from watchlist_screening.normalise.job import main

if __name__ == "__main__":
    sys.exit(main())

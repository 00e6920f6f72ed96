"""Every page and summary a person reads about a run: the model report, the day's run
report (one section per alert), the run summary (JSON line and HTML page), their shared
HTML, where they live and how alerts link to them (links.py), and `make demo`'s closing
report. Nothing here decides anything the pipeline does."""

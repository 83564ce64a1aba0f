"""A person as the junior: ``tandem-rl play`` serves a local page where a person takes the junior's turns.

``records.py`` (what one played problem leaves on disk), ``senior.py`` (the senior writing one step with the engine),
``study.py`` (sessions, blind assignment of seniors, turns, limits, grading), ``page.py`` (the HTML page),
``server.py`` (the local HTTP server and its JSON API), ``command.py`` (the CLI). docs/play.md.
"""

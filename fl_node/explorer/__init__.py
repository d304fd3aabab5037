"""The ledger explorer: web pages where auditors and operators read a ledger, its contributions and its audit.

``views`` reads the chain (ledger client, event index) and the artifact store into page
contexts; ``render`` turns them into HTML; ``web`` serves them live, ``export`` writes them as
a static site; ``bench`` times the pages on the demo's ledger and on a large synthetic one.
"""

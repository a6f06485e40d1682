-- Record the clusters on tickets and (re)match them all against the gazetteer.
SELECT tickets.match_clusters();

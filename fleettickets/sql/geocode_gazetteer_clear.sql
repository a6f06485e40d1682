-- A new gazetteer replaces the old one whole (names go with their places).
DELETE FROM tickets.gazetteer;

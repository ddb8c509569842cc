"""TrackTik (Trackforce) guard management: shifts -> raw.timesheets, patrol tour sessions
(checkpoint scans) -> raw.patrols.

See docs/connectors/tracktik.md for the field mapping, the position-type table and the
assumptions made where TrackTik's public material is silent."""

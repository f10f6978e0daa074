"""The dataset layer: typed records, the workspace store, dataset adapters and ingest, a release's manifest
(reading and verifying it), and caption tables. Imports only itself and core/."""

"""What models answered: ObservationMatrix, one loader per source format (sources/), and the SQLite
store (store/) that ingest writes and fit reads.
"""

"""Retrieval metrics, the evaluator, the leaderboard, and the Bi-IRRA baseline."""

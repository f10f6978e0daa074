"""Shared helpers every part uses: errors, languages, atomic writes, progress bars, devices, the writer lock
and the clock. Imports nothing of tipr_bench outside core/."""

"""Commands that teach by checking: gradient checks, model summaries, the learning-rate range
test and learning curves. Each takes a Config (or a run) and returns plain results for the
CLI to show."""

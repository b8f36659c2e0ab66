"""Tools for testing graders: hypothesis strategies, property checks, a fake OpenAI server."""

"""Reading and comparing numbers and math answers: the machinery behind ``numeric`` and ``math``."""

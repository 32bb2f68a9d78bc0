"""Answers: the unit (sentence, list, clause run, table row, article) that answers a question, and
the span inside it."""

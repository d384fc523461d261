"""``python -m schema > schema.graphql`` writes the committed SDL (a test checks it)."""

from schema import build_schema

print(str(build_schema()))

"""The Strawberry GraphQL schema (queries, mutations, subscriptions); arrives with the API."""

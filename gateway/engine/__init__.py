"""GraphQL documents from text to answer, knowing graphql-core and not Kora: the document cache
(parse + validate), admission (size, rules, cost), persisted documents, compiled plans and the fast
executor."""

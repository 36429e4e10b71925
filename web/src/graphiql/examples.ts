/**
 * Operations GraphiQL opens with, one tab each: a frontend developer's first questions. They are
 * checked against the schema when the console is type-checked (test/e2e runs the first).
 */
export const EXAMPLE_TABS: { query: string; variables?: string }[] = [
  {
    query: `# Who this key is and what it may do
query Viewer {
  viewer {
    name
    role
    permissions
  }
}
`,
  },
  {
    query: `# The review queue, most uncertain first, with what a reviewer needs to decide
query ReviewQueue($first: Int!) {
  reviewQueue(first: $first, orderBy: MOST_UNCERTAIN) {
    totalCount
    countsByTag { tag { key name } count }
    edges {
      node {
        id
        confidence
        tag { key name category { name } }
        customer { id name }
        explanation { text }
      }
    }
  }
}
`,
    variables: '{ "first": 10 }',
  },
  {
    query: `# Customers with their tags, a page at a time (pass endCursor as "after" for the next)
query Customers($after: String) {
  customers(first: 20, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id externalId name tags { tag { key } source } } }
  }
}
`,
  },
  {
    query: `# The taxonomy: categories and their tags
query Taxonomy {
  tagCategories(first: 50) {
    edges { node { key name tags(first: 50) { edges { node { key name } } } } }
  }
}
`,
  },
];

import { Max, Min } from 'class-validator';
import { ArgsType, Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type Page } from './pagination.js';

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ArgsType()
export class PageArgs {
  @Field(() => Int, { defaultValue: DEFAULT_PAGE_SIZE, description: `1 to ${MAX_PAGE_SIZE}` })
  @Min(1)
  @Max(MAX_PAGE_SIZE)
  first: number = DEFAULT_PAGE_SIZE;

  @Field(() => String, { nullable: true, description: 'endCursor of the previous page' })
  after?: string | null;
}

export interface ConnectionClass<T> {
  new (): ConnectionShape<T>;
  fromPage(page: Page<T>): ConnectionShape<T>;
}

export interface ConnectionShape<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
  totalCount(): Promise<number>;
}

/** A Relay connection type `<name>Connection` with `<name>Edge`, `pageInfo` and `totalCount`. */
export function createConnectionType<T extends object>(
  name: string,
  nodeType: ClassType<T>,
): ConnectionClass<T> {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field(() => String)
    cursor!: string;

    @Field(() => nodeType)
    node!: T;
  }

  @ObjectType(`${name}Connection`)
  class Connection implements ConnectionShape<T> {
    @Field(() => [Edge])
    edges!: Edge[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    private count!: () => Promise<number>;

    @Field(() => Int, { description: 'All items matching the filter, not just this page' })
    totalCount(): Promise<number> {
      return this.count();
    }

    static fromPage(page: Page<T>): Connection {
      const connection = new Connection();
      connection.edges = page.nodes.map((node, i) => ({ cursor: page.cursors[i]!, node }));
      connection.pageInfo = {
        hasNextPage: page.hasNextPage,
        endCursor: page.cursors.at(-1) ?? null,
      };
      connection.count = page.totalCount;
      return connection;
    }
  }
  return Connection;
}

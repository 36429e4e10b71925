import { useSearchParams } from 'wouter';
import type { VariablesOf } from '../../graphql';
import type { QueuePageQuery } from './QueueList';

export type QueueOrder = NonNullable<VariablesOf<typeof QueuePageQuery>['orderBy']>;
export type QueueFilter = NonNullable<VariablesOf<typeof QueuePageQuery>['filter']>;

export const ORDERS: { value: QueueOrder; label: string }[] = [
  { value: 'MOST_UNCERTAIN', label: 'Most uncertain first' },
  { value: 'HIGHEST_CONFIDENCE', label: 'Highest confidence first' },
  { value: 'HIGHEST_CUSTOMER_VALUE', label: 'Highest customer value first' },
  { value: 'OLDEST', label: 'Oldest first' },
];

/** The queue's filter and order as the address holds them; a reload or a shared link keeps both. */
export interface QueueView {
  order: QueueOrder;
  tagId?: string;
  categoryId?: string;
  clusterId?: string;
  modelVersionId?: string;
  minConfidence?: number;
  maxConfidence?: number;
}

/** Query-string names: short, as a person would share them. */
const PARAMS = {
  order: 'order',
  tagId: 'tag',
  categoryId: 'category',
  clusterId: 'cluster',
  modelVersionId: 'model',
  minConfidence: 'min',
  maxConfidence: 'max',
} as const;

function parseView(params: URLSearchParams): QueueView {
  const text = (name: string) => params.get(name) || undefined;
  // A hand-edited address with a bad number or order falls back to none rather than failing.
  const number = (name: string) => {
    const value = Number(params.get(name) ?? '');
    return params.get(name) && Number.isFinite(value) ? value : undefined;
  };
  const order = ORDERS.find((o) => o.value === params.get(PARAMS.order))?.value;
  return {
    order: order ?? 'MOST_UNCERTAIN',
    tagId: text(PARAMS.tagId),
    categoryId: text(PARAMS.categoryId),
    clusterId: text(PARAMS.clusterId),
    modelVersionId: text(PARAMS.modelVersionId),
    minConfidence: number(PARAMS.minConfidence),
    maxConfidence: number(PARAMS.maxConfidence),
  };
}

function formatView(view: QueueView): URLSearchParams {
  const params = new URLSearchParams();
  for (const [field, name] of Object.entries(PARAMS) as [keyof QueueView, string][]) {
    const value = view[field];
    // The default order stays out of the address, so the plain /queue link is the default view.
    if (value === undefined || (field === 'order' && value === 'MOST_UNCERTAIN')) continue;
    params.set(name, String(value));
  }
  return params;
}

export function useQueueView(): [QueueView, (change: Partial<QueueView>) => void] {
  const [params, setParams] = useSearchParams();
  const view = parseView(params);
  return [view, (change) => setParams(formatView({ ...parseView(params), ...change }))];
}

/** The API's filter for a view: PENDING suggestions (the API's default status) matching it. */
export function filterOf(view: QueueView): QueueFilter {
  return {
    tagIds: view.tagId ? [view.tagId] : undefined,
    categoryIds: view.categoryId ? [view.categoryId] : undefined,
    clusterId: view.clusterId,
    modelVersionId: view.modelVersionId,
    minConfidence: view.minConfidence,
    maxConfidence: view.maxConfidence,
  };
}

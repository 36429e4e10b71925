import { useState } from 'react';
import { graphql, type ResultOf } from '../../graphql';
import { ORDERS, type QueueOrder, type QueueView } from './queue.search';

/** The lists the filters choose from, in one request. */
export const QueueLookupsQuery = graphql(`
  query QueueLookups {
    tags(first: 500, filter: { status: ACTIVE }) {
      edges {
        node {
          id
          name
          category {
            id
            name
          }
        }
      }
    }
    tagCategories(first: 500) {
      edges {
        node {
          id
          name
        }
      }
    }
    clusters {
      id
      index
      label
    }
    modelVersions(first: 50) {
      edges {
        node {
          id
          version
          status
        }
      }
    }
  }
`);

export type QueueLookups = ResultOf<typeof QueueLookupsQuery>;

/** Order and filters; each change goes to the address at once (see queue.search.ts). */
export function QueueFilters(props: {
  view: QueueView;
  lookups: QueueLookups | undefined;
  onChange(change: Partial<QueueView>): void;
}) {
  const { view, lookups } = props;
  const optional = (value: string) => (value === '' ? undefined : value);
  return (
    <form className="filters" aria-label="Queue filters" onSubmit={(e) => e.preventDefault()}>
      <div>
        <label htmlFor="queue-order">Order</label>
        <select
          id="queue-order"
          value={view.order}
          onChange={(e) => props.onChange({ order: e.target.value as QueueOrder })}
        >
          {ORDERS.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="queue-tag">Tag</label>
        <select
          id="queue-tag"
          value={view.tagId ?? ''}
          onChange={(e) => props.onChange({ tagId: optional(e.target.value) })}
        >
          <option value="">Any tag</option>
          {lookups?.tags.edges.map(({ node }) => (
            <option key={node.id} value={node.id}>
              {node.name} ({node.category.name})
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="queue-category">Category</label>
        <select
          id="queue-category"
          value={view.categoryId ?? ''}
          onChange={(e) => props.onChange({ categoryId: optional(e.target.value) })}
        >
          <option value="">Any category</option>
          {lookups?.tagCategories.edges.map(({ node }) => (
            <option key={node.id} value={node.id}>
              {node.name}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="queue-cluster">Cluster</label>
        <select
          id="queue-cluster"
          value={view.clusterId ?? ''}
          onChange={(e) => props.onChange({ clusterId: optional(e.target.value) })}
        >
          <option value="">Any cluster</option>
          {lookups?.clusters.map((c) => (
            <option key={c.id} value={c.id}>
              {c.index}: {c.label}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="queue-model">Model version</label>
        <select
          id="queue-model"
          value={view.modelVersionId ?? ''}
          onChange={(e) => props.onChange({ modelVersionId: optional(e.target.value) })}
        >
          <option value="">Any version</option>
          {lookups?.modelVersions.edges.map(({ node }) => (
            <option key={node.id} value={node.id}>
              {node.version} ({node.status.toLowerCase()})
            </option>
          ))}
        </select>
      </div>
      <ConfidenceBound
        id="queue-min"
        label="Confidence from"
        value={view.minConfidence}
        onChange={(minConfidence) => props.onChange({ minConfidence })}
      />
      <ConfidenceBound
        id="queue-max"
        label="Confidence to"
        value={view.maxConfidence}
        onChange={(maxConfidence) => props.onChange({ maxConfidence })}
      />
    </form>
  );
}

/**
 * A bound between 0 and 1, applied when the field is left or Enter is pressed: every keystroke
 * would reload the queue half-typed ("0." is 0).
 */
function ConfidenceBound(props: {
  id: string;
  label: string;
  value: number | undefined;
  onChange(value: number | undefined): void;
}) {
  const [text, setText] = useState(props.value?.toString() ?? '');
  const [shown, setShown] = useState(props.value);
  if (shown !== props.value) {
    // The address changed under the field (back button, a shared link): show what it holds.
    setShown(props.value);
    setText(props.value?.toString() ?? '');
  }
  function apply() {
    const value = text.trim() === '' ? undefined : Number(text);
    if (value === undefined || (Number.isFinite(value) && value >= 0 && value <= 1)) {
      if (value !== props.value) props.onChange(value);
    }
  }
  return (
    <div>
      <label htmlFor={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="number"
        min={0}
        max={1}
        step={0.05}
        placeholder="0–1"
        value={text}
        onChange={(e) => setText(e.target.value)}
        onBlur={apply}
        onKeyDown={(e) => {
          if (e.key === 'Enter') apply();
        }}
      />
    </div>
  );
}

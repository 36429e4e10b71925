import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useSession } from '../../session';
import { BulkDialog } from './BulkDialog';
import { QueueFilters, QueueLookupsQuery, type QueueLookups } from './QueueFilters';
import { QueueList, useQueuePages } from './QueueList';
import { useQueueView, type QueueView } from './queue.search';
import './queue.css';

/** The reviewer's queue at /queue: filters and counts, the list worked by keyboard, bulk decisions. */
export function QueuePage() {
  const { apiKey, request } = useSession();
  const client = useQueryClient();
  const [view, setView] = useQueueView();
  const [bulk, setBulk] = useState(false);
  // Bumped after a bulk decision: the list starts again without what was decided.
  const [round, setRound] = useState(0);

  const lookups = useQuery({
    queryKey: ['queueLookups', apiKey],
    queryFn: () => request(QueueLookupsQuery),
    staleTime: 60_000,
  });
  const pages = useQueuePages(view);
  const tagsByCategory = useMemo(() => {
    const byCategory = new Map<string, { id: string; name: string }[]>();
    for (const { node } of lookups.data?.tags.edges ?? []) {
      const list = byCategory.get(node.category.id) ?? [];
      byCategory.set(node.category.id, [...list, { id: node.id, name: node.name }]);
    }
    return byCategory;
  }, [lookups.data]);

  const queue = pages.data?.pages[0]?.reviewQueue;
  const viewKey = JSON.stringify(view);
  return (
    <div className="queue-page">
      <h1>Review queue</h1>
      <QueueFilters view={view} lookups={lookups.data} onChange={setView} />
      {lookups.isError && (
        <p role="alert" className="error">
          Filter lists could not be loaded: {lookups.error.message}
        </p>
      )}
      <section className="counts" aria-label="Counts">
        <p>
          <strong>{queue?.totalCount?.toLocaleString() ?? '…'}</strong> pending in this view
          {queue?.countsByTag?.length ? ':' : ''}
        </p>
        {queue?.countsByTag && queue.countsByTag.length > 0 && (
          <ul className="tag-counts" aria-label="Pending per tag">
            {queue.countsByTag.map((c) => (
              <li key={c.tag.id}>
                <button
                  type="button"
                  aria-pressed={view.tagId === c.tag.id}
                  onClick={() => setView({ tagId: view.tagId === c.tag.id ? undefined : c.tag.id })}
                >
                  {c.tag.name} <span className="count">{c.count.toLocaleString()}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        <button type="button" onClick={() => setBulk(true)} disabled={!queue?.totalCount}>
          Decide all in this view…
        </button>
      </section>
      {bulk && (
        <BulkDialog
          view={view}
          describe={describeView(view, lookups.data)}
          onClose={(changed) => {
            setBulk(false);
            if (!changed) return;
            // What was decided leaves the queue: start the view again from its first page.
            void client.resetQueries({ queryKey: ['reviewQueue'] });
            setRound((r) => r + 1);
          }}
        />
      )}
      <QueueList
        key={`${viewKey}:${round}`}
        pages={pages}
        tagsByCategory={tagsByCategory}
        total={queue?.totalCount ?? undefined}
      />
    </div>
  );
}

/** The view's filters in words, for the bulk dialog: what a bulk decision would take. */
function describeView(view: QueueView, lookups: QueueLookups | undefined): string {
  const name = <T extends { id: string }>(
    list: T[] | undefined,
    id: string,
    label: (x: T) => string,
  ) => {
    const found = list?.find((x) => x.id === id);
    return found ? label(found) : `#${id}`;
  };
  const parts = [
    view.tagId &&
      `tag ${name(
        lookups?.tags.edges.map((e) => e.node),
        view.tagId,
        (t) => t.name,
      )}`,
    view.categoryId &&
      `category ${name(
        lookups?.tagCategories.edges.map((e) => e.node),
        view.categoryId,
        (c) => c.name,
      )}`,
    view.clusterId && `cluster ${name(lookups?.clusters, view.clusterId, (c) => c.label)}`,
    view.modelVersionId &&
      `model ${name(
        lookups?.modelVersions.edges.map((e) => e.node),
        view.modelVersionId,
        (m) => m.version,
      )}`,
    view.minConfidence !== undefined && `confidence from ${view.minConfidence}`,
    view.maxConfidence !== undefined && `confidence to ${view.maxConfidence}`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'every pending suggestion (no filter)';
}

import { useInfiniteQuery } from '@tanstack/react-query';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError } from '../../api';
import { graphql } from '../../graphql';
import { useSession } from '../../session';
import { CorrectPicker, RejectPrompt } from './DecisionPrompts';
import { isOpen, useDecisions, type Decision, type Outcome } from './queue.decisions';
import { filterOf, type QueueView } from './queue.search';
import { ShortcutHelp } from './ShortcutHelp';
import {
  describeOutcome,
  readSuggestion,
  SuggestionCard,
  SuggestionCardFields,
  type Suggestion,
} from './SuggestionCard';

export const QueuePageQuery = graphql(
  `
    query QueuePage(
      $first: Int!
      $after: String
      $filter: ReviewQueueFilter
      $orderBy: ReviewQueueOrder!
      $withCounts: Boolean!
    ) {
      reviewQueue(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
        totalCount @include(if: $withCounts)
        countsByTag @include(if: $withCounts) {
          count
          tag {
            id
            name
          }
        }
        edges {
          node {
            id
            ...SuggestionCardFields
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  `,
  [SuggestionCardFields],
);

const PAGE_SIZE = 25;
/** The next page is asked for when the focus comes this close to the end of what is loaded. */
const PREFETCH_WITHIN = 5;

/**
 * The queue's pages for a view. The first page brings the counts along: with a filter that scans,
 * the API runs one such operation per key at a time, so counts asked for apart would be refused
 * while the page loads. A refusal for that reason is retried.
 */
export function useQueuePages(view: QueueView) {
  const { apiKey, request } = useSession();
  return useInfiniteQuery({
    queryKey: ['reviewQueue', apiKey, view],
    queryFn: ({ pageParam }) =>
      request(QueuePageQuery, {
        first: PAGE_SIZE,
        after: pageParam,
        filter: filterOf(view),
        orderBy: view.order,
        withCounts: pageParam === null,
      }),
    initialPageParam: null as string | null,
    getNextPageParam: (last) =>
      last.reviewQueue.pageInfo.hasNextPage ? last.reviewQueue.pageInfo.endCursor : null,
    retry: (failures, error) =>
      error instanceof ApiError && error.code === 'CONCURRENCY_LIMITED' && failures < 3,
    staleTime: Infinity,
    refetchOnWindowFocus: false,
  });
}

export type QueuePages = ReturnType<typeof useQueuePages>;

type Prompt = { kind: 'reject' | 'correct'; id: string } | null;

/**
 * The queue as a list worked from the keyboard: the focused item is the one the keys act on, each
 * decision is one request, and the focus moves on to the next undecided item. The list is not
 * refetched while worked (decided items would vanish and shift the focus); a new view starts anew.
 */
export function QueueList(props: {
  pages: QueuePages;
  /** Active tags by category id: the choices for a correction. */
  tagsByCategory: ReadonlyMap<string, { id: string; name: string }[]>;
  total: number | undefined;
}) {
  const { pages } = props;
  const items = useMemo(
    () =>
      pages.data?.pages.flatMap((page) =>
        page.reviewQueue.edges.map((edge) => readSuggestion(edge.node)),
      ) ?? [],
    [pages.data],
  );
  const { outcomes, decide, skip } = useDecisions();
  const [current, setCurrent] = useState(0);
  const [prompt, setPrompt] = useState<Prompt>(null);
  const [help, setHelp] = useState(false);
  const [announcement, setAnnouncement] = useState('');
  const cards = useRef(new Map<string, HTMLElement>());
  const moved = useRef(false);

  const focused: Suggestion | undefined = items[current];

  /** Moves the focus to an item (past the last one: the end, until more load) and says where. */
  const moveTo = useCallback(
    (index: number, before?: string) => {
      const to = Math.max(0, Math.min(index, items.length));
      const item = items[to];
      const where = item
        ? `Suggestion ${to + 1}${props.total !== undefined ? ` of ${props.total}` : ''}: ` +
          `${item.tag.name} for ${item.customer.name}, ` +
          `confidence ${Math.round(item.confidence * 100)}%`
        : 'End of the loaded suggestions';
      moved.current = true;
      setPrompt(null);
      setCurrent(to);
      setAnnouncement(before ? `${before}. ${where}` : where);
    },
    [items, props.total],
  );

  const nextOpen = useCallback(
    (from: number, latest: ReadonlyMap<string, Outcome>) => {
      for (let i = from + 1; i < items.length; i++) if (isOpen(latest.get(items[i]!.id))) return i;
      return items.length;
    },
    [items],
  );

  // Bring the focused item into view and focus after a move (not on first load: the page's own
  // focus order starts at the top). Only when the item changes: a re-render must not pull focus
  // from a prompt.
  const focusedId = focused?.id;
  useEffect(() => {
    if (!moved.current || focusedId === undefined) return;
    const card = cards.current.get(focusedId);
    card?.focus({ preventScroll: true });
    card?.scrollIntoView({ block: 'nearest' });
  }, [focusedId]);

  useEffect(() => {
    if (current >= items.length - PREFETCH_WITHIN && pages.hasNextPage && !pages.isFetching) {
      void pages.fetchNextPage();
    }
  }, [current, items.length, pages]);

  const act = useCallback(
    async (suggestion: Suggestion, index: number, decision: Decision) => {
      setPrompt(null);
      const outcome = await decide(suggestion.id, decision);
      if (outcome.state === 'failed') {
        setAnnouncement(`Not decided: ${outcome.message}`);
        cards.current.get(suggestion.id)?.focus();
        return;
      }
      moveTo(
        nextOpen(index, new Map(outcomes).set(suggestion.id, outcome)),
        outcome.state === 'decided' || outcome.state === 'taken'
          ? describeOutcome(outcome)
          : undefined,
      );
    },
    [decide, moveTo, nextOpen, outcomes],
  );

  const onSkip = useCallback(
    (suggestion: Suggestion, index: number) => {
      skip(suggestion.id);
      moveTo(
        nextOpen(index, new Map(outcomes).set(suggestion.id, { state: 'skipped' })),
        'Skipped',
      );
    },
    [skip, moveTo, nextOpen, outcomes],
  );

  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
      const target = event.target as HTMLElement;
      // Typing in a field, a prompt of a card or the bulk dialog is not a shortcut.
      if (target.closest('input, textarea, select, [role="listbox"], dialog[open]')) return;
      if (document.querySelector('dialog[open]')) return;
      if (event.key === '?') {
        setHelp((shown) => !shown);
        event.preventDefault();
        return;
      }
      const open = focused !== undefined && isOpen(outcomes.get(focused.id));
      switch (event.key) {
        case 'j':
        case 'ArrowDown':
          moveTo(current + 1);
          break;
        case 'k':
        case 'ArrowUp':
          moveTo(current - 1);
          break;
        case 'a':
          if (open) void act(focused, current, { action: 'approve' });
          break;
        case 'r':
          if (open) setPrompt({ kind: 'reject', id: focused.id });
          break;
        case 'c':
          if (open) setPrompt({ kind: 'correct', id: focused.id });
          break;
        case 's':
          if (open) onSkip(focused, current);
          break;
        case 'Escape':
          setHelp(false);
          return;
        default:
          return;
      }
      event.preventDefault();
    }
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [act, current, focused, moveTo, onSkip, outcomes]);

  if (pages.isPending) return <p role="status">Loading the queue…</p>;
  if (pages.isError) {
    return (
      <p role="alert" className="error">
        The queue could not be loaded: {pages.error.message}
      </p>
    );
  }

  function closePrompt(id: string) {
    setPrompt(null);
    cards.current.get(id)?.focus();
  }

  return (
    <>
      <ShortcutHelp expanded={help} onToggle={() => setHelp((shown) => !shown)} />
      <p className="visually-hidden" aria-live="polite" aria-atomic="true">
        {announcement}
      </p>
      {items.length === 0 ? (
        <p role="status">Nothing to review in this view.</p>
      ) : (
        <ol className="queue" aria-label="Suggestions">
          {items.map((s, index) => {
            const outcome = outcomes.get(s.id);
            const open = isOpen(outcome);
            return (
              <li key={s.id}>
                <SuggestionCard
                  ref={(element) => {
                    if (element) cards.current.set(s.id, element);
                    else cards.current.delete(s.id);
                  }}
                  suggestion={s}
                  position={index + 1}
                  current={index === current}
                  outcome={outcome}
                  onSelect={() => setCurrent(index)}
                >
                  {prompt?.id === s.id && prompt.kind === 'reject' ? (
                    <RejectPrompt
                      id={s.id}
                      onReject={(reason) => void act(s, index, { action: 'reject', reason })}
                      onCancel={() => closePrompt(s.id)}
                    />
                  ) : prompt?.id === s.id && prompt.kind === 'correct' ? (
                    <CorrectPicker
                      id={s.id}
                      category={s.tag.category.name}
                      tags={(props.tagsByCategory.get(s.tag.category.id) ?? []).filter(
                        (t) => t.id !== s.tag.id,
                      )}
                      onCorrect={(tagId) => void act(s, index, { action: 'correct', tagId })}
                      onCancel={() => closePrompt(s.id)}
                    />
                  ) : (
                    open && (
                      <div className="actions" role="group" aria-label="Decide">
                        <button
                          type="button"
                          className="approve"
                          disabled={outcome?.state === 'sending'}
                          onClick={() => void act(s, index, { action: 'approve' })}
                        >
                          Approve <kbd>a</kbd>
                        </button>
                        <button
                          type="button"
                          onClick={() => {
                            setCurrent(index);
                            setPrompt({ kind: 'reject', id: s.id });
                          }}
                        >
                          Reject… <kbd>r</kbd>
                        </button>
                        <button
                          type="button"
                          onClick={() => {
                            setCurrent(index);
                            setPrompt({ kind: 'correct', id: s.id });
                          }}
                        >
                          Correct… <kbd>c</kbd>
                        </button>
                        <button type="button" onClick={() => onSkip(s, index)}>
                          Skip <kbd>s</kbd>
                        </button>
                      </div>
                    )
                  )}
                </SuggestionCard>
              </li>
            );
          })}
        </ol>
      )}
      <p role="status" className="hint">
        {pages.isFetchingNextPage
          ? 'Loading more…'
          : pages.hasNextPage
            ? `${items.length} loaded; more load as you go`
            : `End of the queue: ${items.length} in this view`}
      </p>
    </>
  );
}

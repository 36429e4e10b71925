import { GraphQLJSONObject } from 'graphql-scalars';
import { Field, Float, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { PageInfo } from '../common/connection.type.js';
import type { Page } from '../common/pagination.js';
import { TagType } from '../taxonomy/taxonomy.type.js';
import type { TagRecord } from '../taxonomy/taxonomy.loaders.js';
import {
  SuggestionKind,
  SuggestionRunStatus,
  SuggestionSource,
  SuggestionStatus,
} from './suggestion.entity.js';
import { QueueOrder, type SuggestionRecord } from './suggestion.repository.js';
import { Decision } from './suggestion.service.js';

registerEnumType(SuggestionStatus, {
  name: 'SuggestionStatus',
  valuesConfig: {
    SUPERSEDED: { description: 'A newer model version’s run replaced it before anyone decided' },
    RETIRED: {
      description:
        'No longer a question before anyone decided: the customer received the tag otherwise, or the tag was deprecated or merged',
    },
  },
});
registerEnumType(SuggestionSource, {
  name: 'SuggestionSource',
  description: 'MODEL: the classifier; CLUSTER: the customer’s segment is mapped to the tag',
});
registerEnumType(SuggestionKind, {
  name: 'SuggestionKind',
  description: 'ADD a tag, or CORRECTION: replace the held tag of an exclusive category',
});
registerEnumType(QueueOrder, { name: 'ReviewQueueOrder' });
registerEnumType(Decision, { name: 'ReviewDecision' });
registerEnumType(SuggestionRunStatus, { name: 'SuggestionRunStatus' });

@ObjectType('Contribution', { description: 'A feature that moved the score, in words' })
export class ContributionType {
  @Field(() => String)
  feature!: string;

  @Field(() => String, { description: '"raises" or "lowers" the tag’s score' })
  direction!: string;

  @Field(() => Float, { description: 'Change of the tag’s logit against an average customer' })
  contribution!: number;

  @Field(() => String, { description: 'e.g. "spend in the last 365 days is 3.1× the median"' })
  text!: string;
}

@ObjectType('SuggestionExplanation')
export class ExplanationType {
  @Field(() => String, { description: 'Why, in one sentence for a reviewer' })
  text!: string;

  @Field(() => String, { nullable: true, description: 'Label of the customer’s segment' })
  cluster!: string | null;

  @Field(() => [ContributionType], { description: 'Largest first' })
  contributions!: ContributionType[];

  @Field(() => Float, {
    nullable: true,
    description:
      'Of this tag’s suggestions at or above this confidence, the share that were right on customers held out from training (see precisionIsEstimate); null for cluster suggestions',
  })
  precision!: number | null;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'true: precision is estimated from positive and unlabelled customers (the tag had too few known negatives), not counted',
  })
  precisionIsEstimate!: boolean | null;
}

@ObjectType('TagSuggestion', { description: 'A proposed tag awaiting (or past) review' })
export class TagSuggestionType {
  @Field(() => ID)
  id!: string;

  customerId!: string;
  tagId!: string;
  replacesTagId!: string | null;
  correctedTagId!: string | null;
  modelVersionId!: string;
  clusterId!: string | null;

  @Field(() => Float, { description: 'Probability from the model (CLUSTER: closeness to core)' })
  confidence!: number;

  @Field(() => Float, { description: 'The tag’s calibrated threshold when scored' })
  threshold!: number;

  @Field(() => Float, { description: 'The customer’s spend in the last 365 days when scored' })
  customerValue!: number;

  @Field(() => SuggestionStatus)
  status!: SuggestionStatus;

  @Field(() => SuggestionSource)
  source!: SuggestionSource;

  @Field(() => SuggestionKind)
  kind!: SuggestionKind;

  @Field(() => Boolean, {
    description: 'Applied by the tag’s auto-apply policy; in the queue as a quality sample',
  })
  autoApplied!: boolean;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => String, { nullable: true })
  reviewedBy!: string | null;

  @Field(() => Date, { nullable: true })
  reviewedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'The reviewer’s note or rejection reason' })
  reviewNote!: string | null;
}

@ObjectType('TagCount')
export class TagCountType {
  @Field(() => TagType)
  tag!: TagRecord;

  @Field(() => Int)
  count!: number;
}

@ObjectType('TagSuggestionEdge')
export class TagSuggestionEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => TagSuggestionType)
  node!: SuggestionRecord;
}

@ObjectType('ReviewQueueConnection')
export class ReviewQueueConnection {
  @Field(() => [TagSuggestionEdge])
  edges!: TagSuggestionEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  private count!: () => Promise<number>;
  counts!: () => Promise<Map<string, number>>;

  @Field(() => Int, { description: 'All suggestions matching the filter' })
  totalCount(): Promise<number> {
    return this.count();
  }

  static fromPage(
    page: Page<SuggestionRecord> & { countsByTag: () => Promise<Map<string, number>> },
  ): ReviewQueueConnection {
    const connection = new ReviewQueueConnection();
    connection.edges = page.nodes.map((node, i) => ({ cursor: page.cursors[i]!, node }));
    connection.pageInfo = { hasNextPage: page.hasNextPage, endCursor: page.cursors.at(-1) ?? null };
    connection.count = page.totalCount;
    connection.counts = page.countsByTag;
    return connection;
  }
}

@ObjectType('SkippedDecision')
export class SkippedDecisionType {
  @Field(() => ID)
  suggestionId!: string;

  @Field(() => SuggestionStatus)
  status!: SuggestionStatus;

  @Field(() => String)
  reason!: string;
}

@ObjectType('ReviewSuggestionsResult')
export class ReviewSuggestionsResult {
  @Field(() => Boolean)
  dryRun!: boolean;

  @Field(() => Int, { description: 'Suggestions selected (at most the limit)' })
  matched!: number;

  @Field(() => Int, {
    description: 'Decided by this call; on a dry run, what the same call would decide',
  })
  decided!: number;

  @Field(() => [SkippedDecisionType], { description: 'Already decided, or not approvable' })
  skipped!: SkippedDecisionType[];

  @Field(() => [TagSuggestionType], {
    description: 'Up to 10 of the suggestions decided (on a dry run: to be decided)',
  })
  sample!: SuggestionRecord[];
}

@ObjectType('SuggestionRun', { description: 'A scoring run on the job queue' })
export class SuggestionRunType {
  @Field(() => ID)
  id!: string;

  @Field(() => SuggestionRunStatus)
  status!: SuggestionRunStatus;

  @Field(() => GraphQLJSONObject)
  params!: Record<string, unknown>;

  @Field(() => GraphQLJSONObject, { nullable: true, description: '{ phase, done, total }' })
  progress!: Record<string, unknown> | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Counts: created, corrections, autoApplied, alreadyHeld, inCooldown, superseded…',
  })
  report!: Record<string, unknown> | null;

  @Field(() => String, { nullable: true })
  error!: string | null;

  @Field(() => String, { nullable: true })
  createdBy!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;
}

@ObjectType('TagPrecision', {
  description:
    'How reviewers received a model version’s suggestions of one tag. Only reviewer decisions count: retired, superseded and unreviewed auto-applied suggestions are no one’s verdict',
})
export class TagPrecisionType {
  tagId!: string;

  @Field(() => TagType)
  tag!: TagRecord;

  @Field(() => Int, { description: 'Suggestions a reviewer approved' })
  approved!: number;

  @Field(() => Int, { description: 'Suggestions a reviewer rejected' })
  rejected!: number;

  @Field(() => Int, { description: 'Suggestions a reviewer replaced with another tag' })
  corrected!: number;

  @Field(() => Float, {
    nullable: true,
    description:
      'Online precision from reviewer decisions, unweighted: approved / (approved + rejected + corrected), on the counts beside it; null before any decision',
  })
  precision!: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'Precision at training time on held-out known labels, for comparison; null where the tag had no known negatives to measure it on',
  })
  offlinePrecision!: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'For a tag learnt from positive and unlabelled data: the estimated precision at training time (method and interval in ModelVersion.tagEvaluations); null otherwise',
  })
  offlineEstimatedPrecision!: number | null;
}

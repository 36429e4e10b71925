import { ArrayMaxSize, IsInt, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { ArgsType, Field, Float, ID, InputType, Int } from 'type-graphql';
import { PageArgs } from '../common/connection.type.js';
import { SuggestionKind, SuggestionSource, SuggestionStatus } from './suggestion.entity.js';
import { QueueOrder } from './suggestion.repository.js';
import { Decision, MAX_BULK_DECISIONS } from './suggestion.service.js';

@InputType()
export class ReviewQueueFilter {
  @Field(() => [SuggestionStatus], { nullable: true, description: 'Default: PENDING' })
  statuses?: SuggestionStatus[] | null;

  @Field(() => [ID], { nullable: true })
  @ArrayMaxSize(500)
  tagIds?: string[] | null;

  @Field(() => [ID], { nullable: true, description: 'Tags of these categories' })
  @ArrayMaxSize(500)
  categoryIds?: string[] | null;

  @Field(() => Float, { nullable: true })
  @Min(0)
  @Max(1)
  minConfidence?: number | null;

  @Field(() => Float, { nullable: true })
  @Min(0)
  @Max(1)
  maxConfidence?: number | null;

  @Field(() => ID, { nullable: true })
  modelVersionId?: string | null;

  @Field(() => ID, { nullable: true })
  clusterId?: string | null;

  @Field(() => ID, { nullable: true })
  customerId?: string | null;

  @Field(() => [SuggestionSource], { nullable: true })
  sources?: SuggestionSource[] | null;

  @Field(() => [SuggestionKind], { nullable: true })
  kinds?: SuggestionKind[] | null;

  @Field(() => ID, { nullable: true, description: 'Customers in this saved segment' })
  segmentId?: string | null;

  @Field(() => Date, { nullable: true, description: 'Created at or after' })
  createdFrom?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Created before' })
  createdTo?: Date | null;
}

@ArgsType()
export class ReviewQueueArgs extends PageArgs {
  @Field(() => ReviewQueueFilter, { nullable: true })
  @ValidateNested()
  filter?: ReviewQueueFilter | null;

  @Field(() => QueueOrder, { defaultValue: QueueOrder.MOST_UNCERTAIN })
  orderBy: QueueOrder = QueueOrder.MOST_UNCERTAIN;
}

@InputType()
export class ReviewSuggestionsInput {
  @Field(() => [ID], { nullable: true, description: 'Exactly one of ids and filter' })
  @ArrayMaxSize(MAX_BULK_DECISIONS)
  ids?: string[] | null;

  @Field(() => ReviewQueueFilter, {
    nullable: true,
    description: 'Pending suggestions matching it, oldest first (status is always PENDING)',
  })
  @ValidateNested()
  filter?: ReviewQueueFilter | null;

  @Field(() => Decision)
  decision!: Decision;

  @Field(() => String, { nullable: true, description: 'Note, or the reason for a rejection' })
  @MaxLength(2000)
  note?: string | null;

  @Field(() => Boolean, {
    defaultValue: false,
    description: 'Count and sample only; write nothing',
  })
  dryRun: boolean = false;

  @Field(() => Int, {
    nullable: true,
    description: `At most this many per call (default 1000 by filter, max ${MAX_BULK_DECISIONS})`,
  })
  @IsInt()
  @Min(1)
  @Max(MAX_BULK_DECISIONS)
  limit?: number | null;
}

@InputType()
export class GenerateSuggestionsInput {
  @Field(() => ID, { nullable: true, description: 'Default: the ACTIVE model version' })
  modelVersionId?: string | null;

  @Field(() => [ID], { nullable: true, description: 'Default: every customer' })
  @ArrayMaxSize(1_000_000)
  customerIds?: string[] | null;

  @Field(() => [ID], { nullable: true, description: 'Default: every suggestable tag' })
  tagIds?: string[] | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Do not re-propose a tag a reviewer rejected within this many days (default 90)',
  })
  @IsInt()
  @Min(0)
  @Max(3650)
  cooldownDays?: number | null;
}

@InputType()
export class AutoApplyPolicyInput {
  @Field(() => ID)
  tagId!: string;

  @Field(() => Float, {
    nullable: true,
    description: 'Apply without review at or above this confidence; null turns auto-apply off',
  })
  @Min(0.5)
  @Max(1)
  threshold?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Share of auto-applied suggestions still sent to review (default 0.1)',
  })
  @Min(0)
  @Max(1)
  sampleRate?: number | null;
}

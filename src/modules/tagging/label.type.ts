import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType('TagLabelCounts', {
  description:
    'Known labels of a tag now: customers holding it as a label (by hand, import, approved suggestion; by rule where the tag learns from rules), customers known not to hold it (another tag of an exclusive category, a complete import, a reviewer’s rejection), and the rest',
})
export class TagLabelCountsType {
  @Field(() => Int)
  positives!: number;

  @Field(() => Int)
  negatives!: number;

  @Field(() => Int)
  unlabelled!: number;
}

/**
 * Deterministic demo data. Every customer's latent persona is a pure function of (seed, index),
 * so later steps (events, models, suggestions) can regenerate it instead of storing it.
 */
import { CategoryKind } from '../taxonomy/tag-category.entity.js';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function rngFor(seed: number, index: number, stream: number): () => number {
  return mulberry32(
    (Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b) ^ stream) >>> 0,
  );
}

function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

function weighted<T>(rng: () => number, items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((sum, [, w]) => sum + w, 0);
  let r = rng() * total;
  for (const [item, w] of items) {
    r -= w;
    if (r < 0) return item;
  }
  return items.at(-1)![0];
}

/** Ages and age bands are relative to a fixed year so the demo is the same whenever it is built. */
export const DEMO_REFERENCE_YEAR = 2026;

export const PRODUCT_CATEGORIES = ['wine', 'meat', 'fish', 'fruit', 'sweets', 'gold'] as const;
export type ProductCategory = (typeof PRODUCT_CATEGORIES)[number];
export type ValueTier = 'high' | 'normal' | 'low' | 'potential';
export type Lifecycle = 'new' | 'active' | 'dormant' | 'churned';

export interface DemoCategory {
  key: string;
  name: string;
  kind: CategoryKind;
  parent?: string;
  exclusive?: boolean;
  suggestable?: boolean;
  description?: string;
  tags: { key: string; name: string; color: string; description?: string }[];
}

/** Dimensions from the seed articles: demographics, behaviour, interest, value, lifecycle, interaction. */
export const DEMO_TAXONOMY: DemoCategory[] = [
  { key: 'demographics', name: 'Demographics', kind: CategoryKind.DEMOGRAPHIC, tags: [] },
  {
    key: 'age-band',
    name: 'Age band',
    kind: CategoryKind.DEMOGRAPHIC,
    parent: 'demographics',
    exclusive: true,
    tags: [
      { key: 'age-18-29', name: '18–29', color: '#9ecae1' },
      { key: 'age-30-44', name: '30–44', color: '#6baed6' },
      { key: 'age-45-59', name: '45–59', color: '#3182bd' },
      { key: 'age-60-plus', name: '60+', color: '#08519c' },
    ],
  },
  {
    key: 'company-size',
    name: 'Company size',
    kind: CategoryKind.DEMOGRAPHIC,
    parent: 'demographics',
    exclusive: true,
    tags: [
      { key: 'small-business', name: 'Small business (<50)', color: '#c7e9c0' },
      { key: 'mid-market', name: 'Mid-market (50–499)', color: '#74c476' },
      { key: 'enterprise', name: 'Enterprise (500+)', color: '#238b45' },
    ],
  },
  {
    key: 'behaviour',
    name: 'Behaviour',
    kind: CategoryKind.BEHAVIOUR,
    tags: [
      { key: 'frequent-buyer', name: 'Frequent buyer', color: '#fd8d3c' },
      { key: 'event-attendee', name: 'Event attendee', color: '#e6550d' },
      { key: 'content-downloader', name: 'Content downloader', color: '#fdae6b' },
      { key: 'deal-seeker', name: 'Deal seeker', color: '#a63603' },
    ],
  },
  {
    key: 'interest',
    name: 'Interests',
    kind: CategoryKind.INTEREST,
    suggestable: true,
    description: 'Product preferences, proposed by the model and confirmed by reviewers',
    tags: [
      { key: 'wine-lover', name: 'Wine lover', color: '#7b0d1e' },
      { key: 'meat-lover', name: 'Meat lover', color: '#b2182b' },
      { key: 'seafood-fan', name: 'Seafood fan', color: '#2166ac' },
      { key: 'fruit-fan', name: 'Fresh fruit fan', color: '#4dac26' },
      { key: 'sweet-tooth', name: 'Sweet tooth', color: '#f1b6da' },
      { key: 'gold-buyer', name: 'Gold buyer', color: '#d4af37' },
    ],
  },
  {
    key: 'value-tier',
    name: 'Value tier',
    kind: CategoryKind.VALUE,
    exclusive: true,
    suggestable: true,
    description: 'Spend, frequency and lifetime value; one tier per customer',
    tags: [
      { key: 'high-value', name: 'High value (高价值)', color: '#6a3d9a' },
      { key: 'normal-value', name: 'Normal value', color: '#9e9ac8' },
      { key: 'low-value', name: 'Low value', color: '#dadaeb' },
      { key: 'potential-value', name: 'Potential value (潜力)', color: '#cab2d6' },
    ],
  },
  {
    key: 'lifecycle',
    name: 'Lifecycle stage',
    kind: CategoryKind.LIFECYCLE,
    exclusive: true,
    tags: [
      { key: 'prospect', name: 'Prospect', color: '#d9d9d9' },
      { key: 'interested', name: 'Interested', color: '#bdbdbd' },
      { key: 'customer', name: 'Customer', color: '#969696' },
      { key: 'vip', name: 'VIP', color: '#ffd700' },
      {
        key: 'dormant',
        name: 'Dormant (沉睡客户)',
        color: '#636363',
        description: 'No interaction for 30 days',
      },
      { key: 'win-back', name: 'Needs win-back', color: '#252525' },
    ],
  },
  {
    key: 'interaction',
    name: 'Interaction',
    kind: CategoryKind.INTERACTION,
    tags: [
      { key: 'email-responder', name: 'Replies to email', color: '#1f78b4' },
      { key: 'service-contact', name: 'Contacted service', color: '#a6cee3' },
    ],
  },
];

const REGIONS: Record<string, string[]> = {
  'East China': ['Shanghai', 'Hangzhou', 'Nanjing', 'Suzhou', 'Hefei'],
  'South China': ['Guangzhou', 'Shenzhen', 'Xiamen', 'Nanning', 'Dongguan'],
  'North China': ['Beijing', 'Tianjin', 'Shijiazhuang', 'Taiyuan'],
  'Central China': ['Wuhan', 'Changsha', 'Zhengzhou'],
  'Southwest China': ['Chengdu', 'Chongqing', 'Kunming'],
  'Northwest China': ["Xi'an", 'Lanzhou', 'Urumqi'],
  'Northeast China': ['Shenyang', 'Harbin', 'Dalian'],
};
const REGION_WEIGHTS: [string, number][] = [
  ['East China', 30],
  ['South China', 25],
  ['North China', 18],
  ['Central China', 10],
  ['Southwest China', 9],
  ['Northwest China', 4],
  ['Northeast China', 4],
];
const INDUSTRIES = [
  'manufacturing',
  'retail',
  'finance',
  'technology',
  'education',
  'healthcare',
  'logistics',
  'hospitality',
];
const SURNAMES =
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤'.split(
    '',
  );
const GIVEN =
  '伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽'.split(
    '',
  );
const PINYIN = [
  'wei',
  'fang',
  'na',
  'min',
  'jing',
  'li',
  'qiang',
  'lei',
  'jun',
  'yang',
  'yong',
  'yan',
  'jie',
  'tao',
  'ming',
  'chao',
  'xia',
  'ping',
  'gang',
  'hua',
];
const EDUCATION: [string, number][] = [
  ['Basic', 3],
  ['Graduation', 50],
  ['Master', 17],
  ['PhD', 21],
  ['2n Cycle', 9],
];
const MARITAL = ['Single', 'Married', 'Together', 'Divorced', 'Widow'];

export interface DemoPersona {
  index: number;
  externalId: string;
  name: string;
  email: string;
  phone: string;
  gender: 'female' | 'male';
  birthYear: number;
  region: string;
  city: string;
  industry: string;
  companySize: number;
  valueTier: ValueTier;
  lifecycle: Lifecycle;
  /** Preferred product categories, strongest first. */
  interests: ProductCategory[];
  income: number;
  kids: number;
  teens: number;
  education: string;
  maritalStatus: string;
  /** Days before the reference date the customer joined. */
  tenureDays: number;
  /** Whether a person tagged this customer by hand in the demo. */
  handTagged: boolean;
}

export function demoExternalId(index: number): string {
  return `demo-${String(index + 1).padStart(7, '0')}`;
}

export function demoPersona(seed: number, index: number): DemoPersona {
  const rng = rngFor(seed, index, 1);
  const region = weighted(rng, REGION_WEIGHTS);
  const valueTier = weighted<ValueTier>(rng, [
    ['high', 12],
    ['normal', 45],
    ['low', 30],
    ['potential', 13],
  ]);
  const lifecycle = weighted<Lifecycle>(rng, [
    ['new', 15],
    ['active', 50],
    ['dormant', 25],
    ['churned', 10],
  ]);
  const first = weighted<ProductCategory>(rng, [
    ['wine', 30],
    ['meat', 25],
    ['fish', 12],
    ['fruit', 12],
    ['sweets', 11],
    ['gold', 10],
  ]);
  const interests: ProductCategory[] = [first];
  if (rng() < 0.45) {
    const second = pick(
      rng,
      PRODUCT_CATEGORIES.filter((c) => c !== first),
    );
    interests.push(second);
  }
  const gender = rng() < 0.5 ? 'female' : 'male';
  const surname = pick(rng, SURNAMES);
  const given = pick(rng, GIVEN) + (rng() < 0.6 ? pick(rng, GIVEN) : '');
  // Potential (潜力) customers are well off but have bought little yet: income shows it first.
  const tierIncome = { high: 95_000, normal: 55_000, low: 30_000, potential: 85_000 }[valueTier];
  const income = Math.round(tierIncome * Math.exp((rng() - 0.5) * 0.6));
  const companySize = Math.max(1, Math.round(Math.exp(rng() * 9.5)));
  return {
    index,
    externalId: demoExternalId(index),
    name: surname + given,
    email: `${pick(rng, PINYIN)}.${pick(rng, PINYIN)}${index + 1}@example.cn`,
    phone: `1${pick(rng, ['38', '39', '58', '86', '87', '35'])}${String(Math.floor(rng() * 1e8)).padStart(8, '0')}`,
    gender,
    birthYear: 1950 + Math.floor(rng() * 55),
    region,
    city: pick(rng, REGIONS[region]!),
    industry: pick(rng, INDUSTRIES),
    companySize,
    valueTier,
    lifecycle,
    interests,
    income,
    kids: weighted(rng, [
      [0, 58],
      [1, 40],
      [2, 2],
    ]),
    teens: weighted(rng, [
      [0, 52],
      [1, 46],
      [2, 2],
    ]),
    education: weighted(rng, EDUCATION),
    maritalStatus: pick(rng, MARITAL),
    tenureDays: lifecycle === 'new' ? Math.floor(rng() * 60) : 60 + Math.floor(rng() * 1000),
    handTagged: rng() < 0.35,
  };
}

const INTEREST_TAGS: Record<ProductCategory, string> = {
  wine: 'wine-lover',
  meat: 'meat-lover',
  fish: 'seafood-fan',
  fruit: 'fruit-fan',
  sweets: 'sweet-tooth',
  gold: 'gold-buyer',
};
const VALUE_TAGS: Record<ValueTier, string> = {
  high: 'high-value',
  normal: 'normal-value',
  low: 'low-value',
  potential: 'potential-value',
};

/**
 * The tags of the suggestable categories the persona truly has: its interests and its value tier.
 * What suggestions are measured against (demo.evaluation.ts).
 */
export function demoTrueTags(persona: DemoPersona): string[] {
  return [...persona.interests.map((i) => INTEREST_TAGS[i]), VALUE_TAGS[persona.valueTier]];
}

/**
 * Tags a person applied by hand: they mostly agree with the persona (so models have signal) but
 * not always (so review and evaluation have something to find).
 */
export function demoHandTags(seed: number, persona: DemoPersona): string[] {
  if (!persona.handTagged) return [];
  const rng = rngFor(seed, persona.index, 2);
  const tags: string[] = [];
  const tiers = Object.keys(VALUE_TAGS) as ValueTier[];
  const tier = rng() < 0.97 ? persona.valueTier : pick(rng, tiers);
  tags.push(VALUE_TAGS[tier]);
  for (const interest of persona.interests) if (rng() < 0.8) tags.push(INTEREST_TAGS[interest]);
  if (rng() < 0.05) {
    const noise = INTEREST_TAGS[pick(rng, PRODUCT_CATEGORIES)];
    if (!tags.includes(noise)) tags.push(noise);
  }
  const lifecycleTag = {
    new: 'interested',
    active: persona.valueTier === 'high' ? 'vip' : 'customer',
    dormant: 'dormant',
    churned: 'win-back',
  }[persona.lifecycle];
  if (rng() < 0.9) tags.push(lifecycleTag);
  const age = DEMO_REFERENCE_YEAR - persona.birthYear;
  if (rng() < 0.5) {
    tags.push(
      age < 30 ? 'age-18-29' : age < 45 ? 'age-30-44' : age < 60 ? 'age-45-59' : 'age-60-plus',
    );
  }
  return tags;
}

export interface DemoEvent {
  type: string;
  occurredAt: Date;
  amount: number | null;
  category: string | null;
  channel: string;
}

const DAY = 86_400_000;
// The seed articles' tiers: high value buys often and much; normal at an average pace and size;
// low rarely and little; potential has bought little so far but engages a lot (it "needs more
// attention and interaction to convert").
const PURCHASES_PER_YEAR: Record<ValueTier, number> = {
  high: 14,
  normal: 6,
  low: 2.5,
  potential: 3,
};
const ORDER_VALUE: Record<ValueTier, number> = { high: 600, normal: 220, low: 60, potential: 300 };
const ENGAGEMENT_BY_TIER: Record<ValueTier, number> = {
  high: 1.5,
  normal: 1,
  low: 0.6,
  potential: 3,
};
const CATEGORY_PRICE: Record<ProductCategory, number> = {
  wine: 1.3,
  meat: 1.1,
  fish: 1,
  fruit: 0.5,
  sweets: 0.4,
  gold: 2,
};
/** Non-purchase events per year of activity, for an average customer. */
const ENGAGEMENT_PER_YEAR: [string, number, string][] = [
  ['PAGE_VIEW', 12, 'WEB'],
  ['EMAIL_OPEN', 4, 'EMAIL'],
  ['EMAIL_CLICK', 1, 'EMAIL'],
  ['DOWNLOAD', 0.5, 'WEB'],
  ['FORM_SUBMIT', 0.3, 'WEB'],
  ['EVENT_REGISTRATION', 0.4, 'EVENT'],
  ['SUPPORT_TICKET', 0.3, 'PHONE'],
  ['REFERRAL', 0.1, 'OTHER'],
];
const SHOPPING_CHANNELS: [string, number][] = [
  ['STORE', 40],
  ['WEB', 30],
  ['APP', 20],
  ['CATALOG', 10],
];

/** Engagement about a product: views, downloads, clicks, and events (attendance inherits it). */
const TOPICAL = new Set(['PAGE_VIEW', 'DOWNLOAD', 'EMAIL_CLICK', 'EVENT_REGISTRATION']);

/**
 * With probability `focus` one of the persona's interests (the second one `second` of the time),
 * otherwise any category.
 */
function interestOrAny(
  rng: () => number,
  persona: DemoPersona,
  focus: number,
  second: number,
): ProductCategory {
  return rng() < focus
    ? persona.interests[persona.interests.length > 1 && rng() < second ? 1 : 0]!
    : pick(rng, PRODUCT_CATEGORIES);
}

function poisson(rng: () => number, mean: number): number {
  // Knuth's method is fine for the small means here.
  const limit = Math.exp(-Math.min(mean, 50));
  let k = 0;
  let p = rng();
  while (p > limit) {
    k += 1;
    p *= rng();
  }
  return k;
}

/**
 * About 20 events over the last two years that follow the persona: value tier sets purchase
 * frequency and order size, interests the categories of purchases and of engagement (page views,
 * downloads, email clicks, events), lifecycle when activity stops.
 */
export function demoEvents(seed: number, persona: DemoPersona, now: number): DemoEvent[] {
  const rng = rngFor(seed, persona.index, 3);
  const joined = now - persona.tenureDays * DAY;
  const start = Math.max(joined, now - 730 * DAY);
  const lastActive = {
    new: now,
    active: now - rng() * 7 * DAY,
    dormant: now - (31 + rng() * 120) * DAY,
    churned: now - (180 + rng() * 420) * DAY,
  }[persona.lifecycle];
  const end = Math.max(lastActive, start + DAY);
  const years = (end - start) / (365 * DAY);
  const when = () => new Date(start + rng() * (end - start));
  const favourite = weighted(rng, SHOPPING_CHANNELS);
  const events: DemoEvent[] = [];

  const purchases = poisson(rng, PURCHASES_PER_YEAR[persona.valueTier] * years);
  for (let i = 0; i < purchases; i++) {
    const category = interestOrAny(rng, persona, 0.75, 0.3);
    const amount =
      ORDER_VALUE[persona.valueTier] * CATEGORY_PRICE[category] * Math.exp((rng() - 0.5) * 0.8);
    events.push({
      type: 'PURCHASE',
      occurredAt: when(),
      amount: Math.round(amount * 100) / 100,
      category,
      channel: rng() < 0.7 ? favourite : weighted(rng, SHOPPING_CHANNELS),
    });
  }
  // New customers explore the catalogue in their first weeks: what interests them shows in what
  // they look at long before it shows in what they buy.
  const engagement = ENGAGEMENT_BY_TIER[persona.valueTier] * (persona.lifecycle === 'new' ? 3 : 1);
  // Categories come from a stream of their own: which engagement events happen, and when, does
  // not depend on them.
  const topics = rngFor(seed, persona.index, 4);
  for (const [type, rate, channel] of ENGAGEMENT_PER_YEAR) {
    const n = poisson(rng, rate * engagement * years);
    for (let i = 0; i < n; i++) {
      const occurredAt = when();
      // People browse what they like more single-mindedly than they shop (gifts, errands).
      const category = TOPICAL.has(type) ? interestOrAny(topics, persona, 0.85, 0.4) : null;
      events.push({ type, occurredAt, amount: null, category, channel });
      if (type === 'EVENT_REGISTRATION' && rng() < 0.7) {
        events.push({
          type: 'EVENT_ATTENDANCE',
          occurredAt: new Date(Math.min(occurredAt.getTime() + 7 * DAY, end)),
          amount: null,
          category,
          channel: 'EVENT',
        });
      }
    }
  }
  return events;
}

// Words the simulated Todo API is filled with. A few titles and names carry quotes, braces, backslashes,
// accents and emoji on purpose: the landing reader must split records on JSON structure, not on bytes.

export const TASK_TITLES: readonly string[] = [
  'Renew passport', 'Book dentist appointment', 'Pay electricity bill', 'Call the plumber', 'Buy groceries',
  'Prepare quarterly report', 'Review pull request #482', 'Reply to "urgent" email from Sam', 'Water the plants',
  'Plan team offsite', 'Fix {placeholder} in invoice template', 'Update C:\\Users\\docs path in README',
  'Order birthday cake 🎂', 'Réserver le dîner', 'Geburtstagsgeschenk für Oma kaufen', 'Cancel gym membership',
  'Submit expense claim', 'Clean out the garage', 'Schedule car service', 'Write blog post draft',
  'Migrate backups to new NAS', 'Pick up dry cleaning', 'Send thank-you notes', 'Prepare slides for Monday',
  'Read chapter 4', 'Renew car insurance', 'Fix leaking tap', 'Book flights to Lisbon', 'File tax return',
  'Defrost the freezer', 'Return library books', 'Call mum', 'Update CV', 'Set up 1:1 with Priya',
  'Check {"json": "in title"} handling', 'Buy printer ink', 'Sort out recycling', 'Plan weekend hike',
  'Backup phone photos', 'Organise team retro', 'Pay rent', 'Repot the monster plant 🌱', 'Order new glasses',
  'Write unit tests for parser', 'Research standing desks', 'Replace smoke alarm battery', 'Buy train tickets',
  'Draft newsletter', 'Archive old projects', 'Book vet appointment for Miso', 'Sign lease renewal',
  'Compare energy tariffs', 'Fix bike puncture', 'Tidy inbox to zero', "Collect parcel from O'Brien's",
  'Prepare interview questions', 'Update emergency contacts', 'Learn 10 Spanish words', 'Bake sourdough',
  'Refill prescription',
];

export const TAGS: readonly string[] = [
  'work', 'home', 'errand', 'urgent', 'health', 'finance', 'travel', 'admin', 'family', 'shopping', 'reading', 'fitness',
];

export const PLANS = ['free', 'pro', 'team'] as const;
export type Plan = (typeof PLANS)[number];
/** Most users stay on the free plan. */
export const PLAN_WEIGHTS: readonly number[] = [0.7, 0.22, 0.08];

export const COUNTRIES: readonly string[] = ['IE', 'GB', 'DE', 'FR', 'NL', 'ES', 'IT', 'PL', 'SE', 'PT', 'BE', 'US'];

export const FIRST_NAMES: readonly string[] = [
  'Ada', 'Grace', 'Alan', 'Zoë', 'Łukasz', 'Siobhán', 'Mateo', 'Priya', 'Chen', 'Fatima', 'Lars', 'Inès', 'Kwame',
  'Sofia', 'Noah', 'Aoife', 'Jonas', 'Mei', 'Olu', 'Elena', 'Hugo', 'Amara', 'Tomás', 'Yuki', 'Sam', 'Leila',
];

export const LAST_NAMES: readonly string[] = [
  'Lovelace', 'Hopper', 'Turing', "O'Brien", 'Nowak', 'García', 'Müller', 'Rossi', 'Dubois', 'Kowalski', 'Andersson',
  'Murphy', 'Silva', 'Okafor', 'Tanaka', 'Smith', 'Jansen', 'Novak', 'Haddad', 'Byrne', 'Costa', 'Weber',
];

/** `ada.lovelace42@example.com`: ASCII letters of the name, the user number to keep it unique. */
export function emailFor(firstName: string, lastName: string, userNumber: number): string {
  const ascii = (text: string): string =>
    text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z]/g, '');
  return `${ascii(firstName)}.${ascii(lastName)}${userNumber}@example.com`;
}

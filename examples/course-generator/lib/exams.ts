// The exams a user can study. In the original app these live in its database; here a
// few realistic fixtures make the demo self-contained.

export interface Exam {
  id: string;
  title: string;
  description: string;
  topics: string[];
  questionCount: number;
  sampleQuestions: string[];
}

export const EXAMS: Exam[] = [
  {
    id: 'usmle-step-1',
    title: 'USMLE Step 1',
    description: 'Basic medical sciences for the first US medical licensing exam.',
    topics: [
      'Cardiology',
      'Pharmacology',
      'Neurology',
      'Immunology',
      'Renal physiology',
      'Biostatistics',
    ],
    questionCount: 280,
    sampleQuestions: [
      'A 54-year-old man has crushing chest pain radiating to the left arm. Which enzyme rises first?',
      'Which drug class causes a dry cough by blocking bradykinin breakdown?',
      'A lesion of which cranial nerve causes a "down and out" eye?',
    ],
  },
  {
    id: 'aws-saa',
    title: 'AWS Solutions Architect – Associate',
    description: 'Designing resilient, secure and cost-aware systems on AWS.',
    topics: ['Networking and VPC', 'Storage', 'Compute', 'Databases', 'Security and IAM'],
    questionCount: 65,
    sampleQuestions: [
      'Which storage class suits data accessed once a quarter but needed within milliseconds?',
      'How do you give an EC2 instance in a private subnet outbound internet access?',
    ],
  },
  {
    id: 'cfa-level-1',
    title: 'CFA Level I',
    description: 'Investment tools, asset valuation and portfolio management.',
    topics: [
      'Ethics',
      'Quantitative methods',
      'Economics',
      'Financial reporting',
      'Fixed income',
      'Equity',
      'Derivatives',
      'Portfolio management',
    ],
    questionCount: 180,
    sampleQuestions: [
      'What happens to a bond’s price when market yields rise?',
      'Which standard covers the misuse of material non-public information?',
    ],
  },
];

export function findExam(id: string): Exam | undefined {
  return EXAMS.find((exam) => exam.id === id);
}

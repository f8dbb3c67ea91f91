import fs from 'node:fs';

/** The fenced ```ts / ```tsx blocks of a Markdown file, in order. */
export function codeBlocks(markdownFile: string): string[] {
  const text = fs.readFileSync(markdownFile, 'utf8');
  return [...text.matchAll(/^```tsx?\n([\s\S]*?)^```/gm)].map((m) => m[1] as string);
}

/** The one block that contains `marker`; a README that lost it fails here, by name. */
export function snippetWith(markdownFile: string, marker: string): string {
  const found = codeBlocks(markdownFile).filter((block) => block.includes(marker));
  if (found.length !== 1) {
    throw new Error(
      `${markdownFile}: expected one code block containing ${JSON.stringify(marker)}, found ${found.length}`,
    );
  }
  return found[0] as string;
}

/** `text.replace(from, to)` that fails loudly when the README no longer says `from`. */
export function replaceExactly(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`snippet no longer contains ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

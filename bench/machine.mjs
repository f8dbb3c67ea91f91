// What every benchmark prints about the machine it ran on, and a Markdown table printer.
import fs from 'node:fs';
import os from 'node:os';

export function machine() {
  let cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const match = /model name\s*:\s*(.+)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) cpu = match[1].trim();
  } catch {}
  return `${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

export function printTable(title, machineLine, rows) {
  console.log(`\n### ${title}\n\nMachine: ${machineLine}\n`);
  console.log('| measure | value | note |\n|---|---:|---|');
  for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c ?? ''} |`);
}

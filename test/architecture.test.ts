/**
 * The layout of docs/architecture.md, checked: which top-level folder may import which, and no import cycles.
 * A type-only import (`import type`, or every name marked `type`) costs nothing at run time, so it is allowed
 * one step further (workflows may import the activities' types, never their code).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Folder → the folders its code may import at run time (itself always). */
const MAY_IMPORT: Record<string, string[]> = {
  core: [],
  db: ['core'],
  delivery: ['core', 'db'],
  workflows: [],
  pushes: ['core', 'db', 'delivery', 'workflows'],
  activities: ['core', 'db', 'delivery', 'pushes'],
  gateway: ['core', 'db', 'delivery', 'pushes', 'sdk'],
  api: ['core', 'db', 'delivery', 'pushes', 'gateway'],
  cli: ['core', 'db', 'delivery', 'pushes', 'gateway', 'activities', 'workflows', 'api'],
  fakes: ['core', 'db', 'delivery'],
};
/** Extra folders a type-only import may reach. */
const MAY_IMPORT_TYPES: Record<string, string[]> = {
  workflows: ['activities', 'pushes'],
  delivery: [],
  pushes: ['activities'],
};

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(full);
    return /\.tsx?$/.test(full) && !full.endsWith('.d.ts') ? [full] : [];
  });
}

function importsOf(file: string): Edge[] {
  const kind = file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false, kind);
  const edges: Edge[] = [];
  for (const node of source.statements) {
    let spec: string | undefined;
    let typeOnly = false;
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      spec = node.moduleSpecifier.text;
      const clause = node.importClause;
      const named =
        clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings : undefined;
      typeOnly =
        clause?.isTypeOnly === true ||
        (clause !== undefined &&
          clause.name === undefined &&
          named !== undefined &&
          named.elements.length > 0 &&
          named.elements.every((e) => e.isTypeOnly));
    } else if (
      ts.isExportDeclaration(node) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      spec = node.moduleSpecifier.text;
      typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
    }
    if (!spec?.startsWith('.')) continue;
    edges.push({ from: file, to: path.resolve(path.dirname(file), spec), typeOnly });
  }
  return edges;
}

const folderOf = (file: string) => path.relative(ROOT, file).split(path.sep)[0] ?? '';

const files = Object.keys(MAY_IMPORT)
  .map((folder) => path.join(ROOT, folder))
  .filter((dir) => existsSync(dir))
  .flatMap(sourceFiles);
const edges = files.flatMap(importsOf);

describe('architecture', () => {
  it('imports only flow the way docs/architecture.md draws them', () => {
    const wrong = edges
      .filter((e) => {
        const from = folderOf(e.from);
        const to = folderOf(e.to);
        if (from === to) return false;
        const allowed = [...(MAY_IMPORT[from] ?? []), ...(e.typeOnly ? (MAY_IMPORT_TYPES[from] ?? []) : [])];
        return !allowed.includes(to);
      })
      .map(
        (e) => `${path.relative(ROOT, e.from)} → ${path.relative(ROOT, e.to)}${e.typeOnly ? ' (type)' : ''}`,
      );
    expect(wrong).toEqual([]);
  });

  it('has no import cycles between modules', () => {
    const graph = new Map<string, string[]>();
    for (const e of edges) if (!e.typeOnly) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        const loop = stack.slice(stack.indexOf(file)).map((f) => path.relative(ROOT, f));
        cycles.push([...loop, path.relative(ROOT, file)].join(' → '));
        return;
      }
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file) ?? []) visit(next);
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) visit(file);
    expect(cycles).toEqual([]);
  });
});

import type { NodeConfig } from '../config/schema.js';
import { UserError } from './errors.js';
import { closest } from './suggest.js';

/** The lab's nodes, looked up by name, group or role. Names come from config, never from chat. */
export class Inventory {
  private readonly byName: Map<string, NodeConfig>;

  constructor(readonly nodes: readonly NodeConfig[]) {
    this.byName = new Map(nodes.map((n) => [n.name, n]));
  }

  names(): string[] {
    return this.nodes.map((n) => n.name);
  }

  groups(): string[] {
    return [...new Set(this.nodes.flatMap((n) => n.groups))].sort();
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The node called `name`, or a UserError that lists the known nodes. */
  node(name: string): NodeConfig {
    const node = this.byName.get(name);
    if (node) return node;
    const guess = closest(name, this.byName.keys());
    throw new UserError(
      `${name} is not in the inventory.${guess ? ` Did you mean ${guess}?` : ''}`,
      `Known nodes: ${this.names().join(', ')}`,
    );
  }

  /** A node name, a group name or `all` → nodes. */
  select(target: string): NodeConfig[] {
    if (target === 'all') return [...this.nodes];
    if (this.byName.has(target)) return [this.byName.get(target)!];
    const inGroup = this.nodes.filter((n) => n.groups.includes(target));
    if (inGroup.length > 0) return inGroup;
    const guess = closest(target, [...this.byName.keys(), ...this.groups(), 'all']);
    throw new UserError(
      `${target} is neither a node nor a group.${guess ? ` Did you mean ${guess}?` : ''}`,
      `Nodes: ${this.names().join(', ')}\nGroups: ${this.groups().join(', ')}, all`,
    );
  }
}

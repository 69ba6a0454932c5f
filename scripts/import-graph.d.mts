export declare const AGENT_DIR: string;
export declare function folderOf(file: string, dir?: string): string;
export declare function folderImports(dir?: string): Array<{ from: string; to: string; file: string; target: string }>;

import { type MigrationInterface, type QueryRunner, TableIndex } from 'typeorm';
import { CONSTRAINT, TABLE } from '../entities.js';

/** Pages of groups are read in (name, id) order: an index keeps a page's cost flat at 10,000 groups. */
export class PgNameOrderIndex1733100000000 implements MigrationInterface {
  readonly name = 'PgNameOrderIndex1733100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createIndex(
      TABLE.protectionGroup,
      new TableIndex({ name: CONSTRAINT.pgNameOrderIndex, columnNames: ['name', 'id'] }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex(TABLE.protectionGroup, CONSTRAINT.pgNameOrderIndex);
  }
}

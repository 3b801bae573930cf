import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';
import { TABLE } from '../entities.js';

/**
 * Each member's flavor and networks on each site (`{ "<site>": { flavorId, networkIds } }`), so a
 * recovery boots every VM with its own mapped flavor and networks.
 */
export class MemberPlacements1732500000000 implements MigrationInterface {
  readonly name = 'MemberPlacements1732500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      TABLE.member,
      new TableColumn({ name: 'site_placements', type: 'json', isNullable: true }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn(TABLE.member, 'site_placements');
  }
}

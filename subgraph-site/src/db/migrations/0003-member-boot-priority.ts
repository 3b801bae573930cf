import { type MigrationInterface, type QueryRunner, TableColumn } from 'typeorm';
import { TABLE } from '../entities.js';

/** Recovery order of each member (priority groups of a recovery plan): 1 first, 3 by default. */
export class MemberBootPriority1732600000000 implements MigrationInterface {
  readonly name = 'MemberBootPriority1732600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn(
      TABLE.member,
      new TableColumn({ name: 'boot_priority', type: 'integer', isNullable: false, default: 3 }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn(TABLE.member, 'boot_priority');
  }
}
